#!/usr/bin/env python3
"""A docs page shows code that CI compiles and runs: each block after a line
`<!-- snippet: NAME in PATH -->` must be the region of PATH (a source under the repository)
between `// snippet: NAME` and `// end snippet`, less its common indentation. This check
fails when a block and its region differ, or a page names a region that is not there.
With --write, it rewrites the blocks from the sources instead.

Usage: check_doc_snippets.py REPOSITORY_ROOT PAGE [--write]
"""
import pathlib
import re
import sys
import textwrap


def sync_page(page, pattern, code_of, fix_command, write, minimum=1):
    """Compares each code block that `pattern` finds on `page` (its last group: the block)
    with `code_of(match)`, which returns (label, code), code None when there is none; prints
    what differs and returns the exit status, or with `write` rewrites the blocks."""
    doc = page.read_text()
    problems, count = [], 0

    def replace(match):
        nonlocal count
        count += 1
        label, code = code_of(match)
        block = match.lastindex
        if code is None:
            problems.append(f"{page}: {label}: the code it shows is not there")
            return match.group(0)
        if match.group(block) != code:
            problems.append(f"{page}: {label} differs from the page; run {fix_command}")
        return match.group(0)[: match.start(block) - match.start(0)] + code + "```"

    updated = pattern.sub(replace, doc)
    if count < minimum:
        print(f"{page}: found {count} code blocks to check, expected at least {minimum}")
        return 1
    if write:
        page.write_text(updated)
        print(f"rewrote {count} code blocks of {page}")
        return 0
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"the {count} code blocks of {page} are the compiled code")
    return 0


def region(path, name):
    lines = path.read_text().split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == f"// snippet: {name}"]
    if len(starts) != 1:
        return None
    end = next((i for i in range(starts[0] + 1, len(lines)) if lines[i].strip() == "// end snippet"), None)
    if end is None:
        return None
    return textwrap.dedent("\n".join(lines[starts[0] + 1 : end])).strip("\n") + "\n"


def main():
    root = pathlib.Path(sys.argv[1])
    pattern = re.compile(r"<!-- snippet: (\w+) in (\S+) -->\n```cpp\n(.*?)```", re.S)

    def code_of(match):
        name, source = match.group(1), match.group(2)
        return f"the region `// snippet: {name}` of {source}", region(root / source, name)

    return sync_page(root / sys.argv[2], pattern, code_of,
                     f"tests/docs/check_doc_snippets.py . {sys.argv[2]} --write", "--write" in sys.argv[3:])


if __name__ == "__main__":
    sys.exit(main())
