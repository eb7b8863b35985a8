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

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from check_doc_snippets import sync_page  # noqa: E402


def twin_source(path):
    text = path.read_text()
    text = re.sub(r"#ifdef TORCHTRAIN_TWIN\n(.*?)#endif\n", r"\1", text, flags=re.S)
    lines = text.split("\n")
    while lines and (lines[0].startswith("//") or lines[0].startswith("#include") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines).strip() + "\n"


def main():
    root = pathlib.Path(sys.argv[1])
    pattern = re.compile(r"\(`tests/compile_fail/(\w+)\.cpp`[^\n]*\n(?:[^\n]*\n)*?\n```cpp\n(.*?)```", re.S)

    def code_of(match):
        path = root / "tests" / "compile_fail" / f"{match.group(1)}.cpp"
        return f"the example of {path.relative_to(root)} (its twin)", twin_source(path) if path.exists() else None

    # One worked example per policy category.
    return sync_page(root / "docs" / "policies.md", pattern, code_of, "tests/docs/check_policy_examples.py . --write",
                     "--write" in sys.argv[2:], minimum=5)


if __name__ == "__main__":
    sys.exit(main())
