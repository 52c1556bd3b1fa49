"""Edit cog.yaml as text, at the positions its YAML nodes give, so comments and layout survive.

Dumping the parsed YAML would drop every comment and reorder keys; here a rename changes a key's
characters only, and a replaced or deleted entry takes its own lines with it and nothing else.
What cannot be edited that way (an entry that shares its line with another) is :class:`Unsafe`.
"""

from __future__ import annotations

import re

import yaml

from cognix.project.doctor.findings import Unsafe

COMMENT = re.compile(r"\s+#.*")


class CogYaml:
    """cog.yaml's text and its node tree (the text must be a valid cog.yaml)."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as error:
            raise Unsafe(f"cog.yaml no longer parses: {error}") from None
        self.root = root if isinstance(root, yaml.MappingNode) else yaml.MappingNode("tag:yaml.org,2002:map", [])

    def entry(self, path: str) -> tuple[yaml.ScalarNode, yaml.Node] | None:
        """The key and value nodes at a dotted ``path`` ("build.python_packages")."""
        node: yaml.Node = self.root
        found = None
        for part in path.split("."):
            if not isinstance(node, yaml.MappingNode):
                return None
            found = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if found is None:
                return None
            node = found[1]
        return found

    def line(self, path: str) -> int | None:
        found = self.entry(path)
        return found[0].start_mark.line + 1 if found else None

    def _need(self, path: str) -> tuple[yaml.ScalarNode, yaml.Node]:
        found = self.entry(path)
        if found is None:
            raise Unsafe(f"cog.yaml has no {path} any more")
        return found

    def _content_end(self, node: yaml.Node) -> int:
        """Where ``node``'s own characters end (a block collection's end mark is the next token's)."""
        if isinstance(node, yaml.ScalarNode):
            end = node.end_mark.index
            return len(self.text[:end].rstrip()) if node.style in ("|", ">") else end
        assert isinstance(node, yaml.CollectionNode)
        if node.flow_style or not node.value:
            return int(node.end_mark.index)
        last = node.value[-1]
        return self._content_end(last[1] if isinstance(last, tuple) else last)

    def _line_end(self, index: int) -> int:
        """Where the line of ``index`` ends: at its "\n" or "\r\n", or the end of the text."""
        end = self.text.find("\n", index)
        if end < 0:
            return len(self.text)
        return end - 1 if self.text[end - 1 : end] == "\r" else end

    def _next_line(self, index: int) -> int:
        end = self.text.find("\n", index)
        return len(self.text) if end < 0 else end + 1

    def _comment_after(self, index: int) -> str:
        """The comment that ends the line at ``index`` (with its leading blanks), or ""."""
        rest = self.text[index : self._line_end(index)]
        return rest if COMMENT.fullmatch(rest) else ""

    def _edit(self, start: int, end: int, text: str) -> str:
        return self.text[:start] + text + self.text[end:]

    def rename_key(self, path: str, new: str) -> str:
        key, _ = self._need(path)
        return self._edit(key.start_mark.index, key.end_mark.index, new)

    def replace_entry(self, path: str, replacement: str) -> str:
        """``key: value`` becomes ``replacement``, which keeps the comment of the key's line."""
        key, value = self._need(path)
        end = self._content_end(value)
        if not isinstance(value, yaml.CollectionNode) or value.flow_style:
            return self._edit(key.start_mark.index, end, replacement)
        after_colon = self.text.index(":", key.end_mark.index) + 1
        comment = self._comment_after(after_colon)
        return self._edit(key.start_mark.index, self._line_end(end), replacement + comment)

    def delete_entry(self, path: str) -> str:
        """Remove ``key: value`` and the lines it is on; it must not share them with another entry."""
        key, value = self._need(path)
        start = self.text.rfind("\n", 0, key.start_mark.index) + 1
        end = self._content_end(value)
        rest = self.text[end : self._line_end(end)]
        if self.text[start : key.start_mark.index].strip() or (rest.strip() and not self._comment_after(end)):
            raise Unsafe(f"{path} shares its line with other entries in cog.yaml")
        return self._edit(start, self._next_line(end), "")

    def list_lines(self, path: str) -> list[str]:
        """The strings of the list at ``path``, each with the comment of its line, and the comments
        on lines of their own between them (what a requirements file can hold as it is)."""
        _, value = self._need(path)
        if not isinstance(value, yaml.SequenceNode) or not all(
            isinstance(item, yaml.ScalarNode) and item.tag == "tag:yaml.org,2002:str" for item in value.value
        ):
            raise Unsafe(f"{path} is not a plain list of strings")
        if value.flow_style:
            return [item.value for item in value.value]
        lines: list[str] = []
        for i, item in enumerate(value.value):
            if i:  # the comment lines between the previous item and this one
                previous_end = self._line_end(value.value[i - 1].end_mark.index)
                between = self.text[previous_end : item.start_mark.index].splitlines()
                lines += [line.strip() for line in between if line.strip().startswith("#")]
            lines.append(item.value + self._comment_after(item.end_mark.index))
        return lines
