#!/usr/bin/env python3
"""docs/policies.md shows, for each policy category, a worked example that CI compiles: the
twin of a compile-fail test (tests/compile_fail/<name>.cpp built with TORCHTRAIN_TWIN).
This check fails when a code block under a "(`tests/compile_fail/<name>.cpp`...)" reference
differs from that file as its twin compiles it (less its first comment and include lines).
With --write, it rewrites the blocks from the files instead.

Usage: check_policy_examples.py REPOSITORY_ROOT [--write]
"""
import pathlib
import re
import sys


def twin_source(path):
    text = path.read_text()
    text = re.sub(r"#ifdef TORCHTRAIN_TWIN\n(.*?)#endif\n", r"\1", text, flags=re.S)
    lines = text.split("\n")
    while lines and (lines[0].startswith("//") or lines[0].startswith("#include") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines).strip() + "\n"


def main():
    root = pathlib.Path(sys.argv[1])
    write = "--write" in sys.argv[2:]
    doc_path = root / "docs" / "policies.md"
    doc = doc_path.read_text()
    pattern = re.compile(r"\(`tests/compile_fail/(\w+)\.cpp`[^\n]*\n(?:[^\n]*\n)*?\n```cpp\n(.*?)```", re.S)
    problems, count = [], 0

    def replace(match):
        nonlocal count
        count += 1
        name, shown = match.group(1), match.group(2)
        source = twin_source(root / "tests" / "compile_fail" / f"{name}.cpp")
        if shown != source:
            problems.append(name)
        return match.group(0)[: match.start(2) - match.start(0)] + source + "```"

    updated = pattern.sub(replace, doc)
    if count < 5:
        print(f"check_policy_examples: found {count} worked examples in {doc_path}, expected one per category (5)")
        return 1
    if write:
        doc_path.write_text(updated)
        print(f"check_policy_examples: rewrote {len(problems)} of {count} examples in {doc_path}")
        return 0
    for name in problems:
        print(f"{doc_path}: the example of tests/compile_fail/{name}.cpp differs from that file's twin; "
              f"run tests/docs/check_policy_examples.py . --write")
    if problems:
        return 1
    print(f"check_policy_examples: {count} worked examples in {doc_path} are the compiled twins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
