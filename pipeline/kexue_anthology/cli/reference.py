"""`anthology help TOPIC`: the references a pip install has no README for, made from the code
that reads what they describe (the front matter's fields, the project file's template), so
that they cannot drift from it."""

from __future__ import annotations

from collections.abc import Iterable

from kexue_anthology.config import project
from kexue_anthology.read import frontmatter, plainmarkdown

TOPICS = ("front-matter", "project")


def topic_text(topic: str, formats: Iterable[project.Owner]) -> str:
    return front_matter_text() if topic == "front-matter" else project_file(formats)


def front_matter_text() -> str:
    width = max(map(len, frontmatter.FIELDS))
    kinds = max(len(kind) for kind, _ in frontmatter.FIELD_HELP.values())
    rows = "\n".join(f"  {name:<{width}}  {frontmatter.FIELD_HELP[name][0]:<{kinds}}  {frontmatter.FIELD_HELP[name][1]}"
                     for name in frontmatter.FIELDS)
    return f"""A post is a Markdown file (.md) that starts with its front matter, YAML between two `---` lines:

  ---
  title: 最小熵原理（五）：“层层递进”之社区发现与聚类
  date: 2019-10-19
  id: "7006"
  series: 最小熵原理
  part: 5
  tags: [无监督, 聚类]
  ---
  正文，公式照写：$x$、$$…$$、\\(…\\)、\\[…\\]、\\begin{{equation}}…\\label{{eq:a}}…\\end{{equation}}，\\eqref{{eq:a}}

Fields (others are ignored; a bad value is an error at its line and is dropped):

{rows}

A Markdown file with no front matter is a post too: its title is its first `# ` heading (else the
file's name), its date that of its last git commit (else its modification time), said in a note
[post-assumed].  Front matter sets them instead: {plainmarkdown.FRONT_MATTER_HINT}.
`anthology new "标题"` writes a post with its front matter filled in.
"""


def project_file(formats: Iterable[project.Owner]) -> str:
    return f"""The project file, {project.FILE_NAME}, says what book a content folder makes.  A command looks for
it in its PATHs' folder or above (with no PATH: the working folder or above), up to the top of the
git repository or the home folder; `--project FILE` names one, `--no-project` reads none.  With
no PATH a command reads the folder the file is in.  Flags (--title, --author, --paper, --math,
--out) override it.  Its tables are {", ".join(f"[{t}]" for t in project.TABLES)}; every key, with its default
(as `anthology init` writes it, but with 科学空间's own values):

{project.template(formats)}"""
