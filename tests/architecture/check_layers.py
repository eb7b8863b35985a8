#!/usr/bin/env python3
"""Checks that the headers of include/torchtrain/ include only down the layers.

Usage: check_layers.py ROOT

ROOT is a repository root: it holds docs/architecture.md and include/torchtrain/. The
numbered list of the section "## Layers" of docs/architecture.md gives the folders of
include/torchtrain/, bottom first, one a line as `1. **core**: ...`. A header in a folder
(its first path component under include/torchtrain/, so policies/precision/ is policies)
may include the headers of its own folder and of the folders listed before it, never of
one listed after it. include/torchtrain/torchtrain.hpp is above all and may include
anything; no other header may lie directly in include/torchtrain/.

It fails (exit 1, one line per problem) on an include that points up, on a folder of
include/torchtrain/ that the list does not name, and on a listed folder that does not
exist. Otherwise it prints one line with the number of includes checked (exit 0).
"""

import os
import re
import sys

SINGLE_HEADER = "torchtrain.hpp"
LAYER_LINE = re.compile(r"^(\d+)\.\s+\*\*([^*]+)\*\*")
INCLUDE = re.compile(r'^\s*#\s*include\s*(?:<([^>]+)>|"([^"]+)")')


def read_layers(doc_path):
    """The folder names of the Layers list, bottom first; exits with a message if it is broken."""
    try:
        with open(doc_path, encoding="utf-8") as doc:
            lines = doc.read().splitlines()
    except OSError as error:
        sys.exit(f"{doc_path}: cannot read it: {error.strerror}")
    in_section = False
    layers = []
    for number, line in enumerate(lines, 1):
        if line.startswith("## "):
            if in_section:
                break
            in_section = line.strip() == "## Layers"
            continue
        match = LAYER_LINE.match(line) if in_section else None
        if not match:
            continue
        position, name = int(match.group(1)), match.group(2).strip()
        if position != len(layers) + 1:
            sys.exit(f"{doc_path}:{number}: layer '{name}' is numbered {position}, "
                     f"expected {len(layers) + 1} (number the Layers list 1, 2, 3, ... bottom first)")
        if name in layers:
            sys.exit(f"{doc_path}:{number}: layer '{name}' is listed twice")
        layers.append(name)
    if not layers:
        sys.exit(f"{doc_path}: no section '## Layers' with a numbered list '1. **folder**: ...'")
    return layers


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: check_layers.py ROOT (a repository root with docs/architecture.md and include/torchtrain/)")
    root = argv[1]
    doc = os.path.join(root, "docs", "architecture.md")
    include_root = os.path.join(root, "include")
    headers_root = os.path.join(include_root, "torchtrain")
    if not os.path.isdir(headers_root):
        sys.exit(f"{headers_root}: no such folder")
    layers = read_layers(doc)
    rank = {name: index for index, name in enumerate(layers)}
    doc_name = os.path.relpath(doc, root)
    problems = []

    folders = sorted(entry for entry in os.listdir(headers_root)
                     if os.path.isdir(os.path.join(headers_root, entry)))
    for folder in folders:
        if folder not in rank:
            problems.append(f"{os.path.join('include', 'torchtrain', folder)}/: folder not in the Layers list of "
                            f"{doc_name} (add it in its place, bottom first)")
    for name in layers:
        if name not in folders:
            problems.append(f"{doc_name}: layer '{name}' is listed but include/torchtrain/{name}/ does not exist "
                            f"(remove it from the list, or create the folder)")

    checked = 0
    for directory, subdirectories, files in os.walk(headers_root):
        subdirectories.sort()
        for file_name in sorted(files):
            if not file_name.endswith(".hpp"):
                continue
            path = os.path.join(directory, file_name)
            shown = os.path.relpath(path, root)
            parts = os.path.relpath(path, headers_root).split(os.sep)
            if len(parts) == 1:
                if file_name != SINGLE_HEADER:
                    problems.append(f"{shown}: a header directly in include/torchtrain/ (only {SINGLE_HEADER} "
                                    f"may be there; move it into the folder of its layer)")
                continue  # the single header is above all layers
            folder = parts[0]
            with open(path, encoding="utf-8") as header:
                for number, line in enumerate(header, 1):
                    match = INCLUDE.match(line)
                    if not match:
                        continue
                    if match.group(1) is not None:
                        target = match.group(1)
                    else:  # "..." is relative to the header first, then to the include folder
                        beside = os.path.normpath(os.path.join(directory, match.group(2)))
                        if os.path.exists(beside):
                            target = os.path.relpath(beside, include_root).replace(os.sep, "/")
                        else:
                            target = match.group(2)
                    target_parts = target.split("/")
                    if target_parts[0] != "torchtrain" or len(target_parts) < 2:
                        continue
                    checked += 1
                    if len(target_parts) == 2:
                        included = target_parts[1]  # torchtrain.hpp (or a header not in a layer)
                        problems.append(f"{shown}:{number}: {folder} includes {included}, which is above it in "
                                        f"{doc_name} (include the headers it needs from their folders)")
                        continue
                    included = target_parts[1]
                    if included in rank and folder in rank and rank[included] > rank[folder]:
                        problems.append(f"{shown}:{number}: {folder} includes {included}, which is above it in "
                                        f"{doc_name} (move the shared piece down, or move this header up)")

    if problems:
        print("\n".join(problems))
        print(f"check_layers: {len(problems)} problem(s) in {checked} includes of torchtrain headers "
              f"(layers from {doc_name})")
        return 1
    print(f"check_layers: {checked} includes of torchtrain headers checked, none points up the "
          f"{len(layers)} layers of {doc_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
