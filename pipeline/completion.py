"""Shell completion for `anthology`, made from its argparse parser: `anthology completion bash|zsh|fish`.

The parser is walked once into a table — for each command path ("", "build", "build pdf") its
subcommands, its options, which options take a value and what that value may be (choices, a
file, or anything) — and the table is written out in the shell's own terms, so that a new
option is completed without anyone touching this file.  zsh runs the bash script through its
`bashcompinit`.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")
FILES = "@files"           # a value completed as a file name


@dataclass
class Command:
    """One command path's completions."""
    subcommands: dict[str, str] = field(default_factory=dict)     # name → help
    options: dict[str, str] = field(default_factory=dict)         # option string → help
    values: dict[str, list[str]] = field(default_factory=dict)    # option taking a value → choices or [FILES]
    positional: list[str] = field(default_factory=list)           # what a bare word may be: choices or [FILES]


def commands(parser: argparse.ArgumentParser) -> dict[str, Command]:
    """The table of `parser`: command path ("" for the top) → what completes there."""
    table: dict[str, Command] = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        here = table.setdefault(path, Command())
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {c.dest: c.help or "" for c in action._choices_actions}
                for name, child in action.choices.items():
                    here.subcommands[name] = helps.get(name, "")
                    walk(child, f"{path} {name}".strip())
            elif action.option_strings:
                for option in action.option_strings:
                    here.options[option] = action.help or ""
                    if action.nargs != 0:
                        here.values[option] = _values(action)
            elif not here.positional:
                here.positional = _values(action)
    walk(parser, "")
    return table


def _values(action: argparse.Action) -> list[str]:
    if action.choices is not None:
        return [str(c) for c in action.choices]
    if action.type is Path or action.metavar in ("PATH", "FILE", "DIR"):
        return [FILES]
    return []


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for `shell`."""
    table = commands(parser)
    prog = parser.prog
    if shell == "fish":
        return _fish(prog, table)
    text = _bash(prog, table)
    if shell == "zsh":
        return ("# zsh completion for anthology: `source <(anthology completion zsh)` after compinit\n"
                "autoload -U +X bashcompinit && bashcompinit\n" + text)
    return text


def _case(entries: dict[str, str]) -> str:
    lines = [f"        {shlex.quote(k)}) printf '%s\\n' {v} ;;" for k, v in entries.items() if v]
    return "\n".join(lines) or "        __none__) ;;"


def _words(words: list[str]) -> str:
    return shlex.quote(" ".join(words))


def _bash(prog: str, table: dict[str, Command]) -> str:
    fn = "_" + prog.replace("-", "_") + "_complete"
    subcommands = {path: _words(list(c.subcommands)) for path, c in table.items()}
    options = {path: _words(list(c.options)) for path, c in table.items()}
    values = {f"{path}|{option}": _words(v) for path, c in table.items() for option, v in c.values.items()}
    takes = "\n".join(f"        {shlex.quote(f'{path}|{option}')}) return 0 ;;"
                      for path, c in table.items() for option in c.values)
    positional = {path: _words(c.positional) for path, c in table.items()}
    return f'''# bash completion for {prog}: `source <({prog} completion bash)`, or save it as
# ~/.local/share/bash-completion/completions/{prog}.  Made from the parser by `{prog} completion bash`.
{fn}_subcommands() {{
    case "$1" in
{_case(subcommands)}
    esac
}}
{fn}_options() {{
    case "$1" in
{_case(options)}
    esac
}}
{fn}_values() {{
    case "$1" in
{_case(values)}
    esac
}}
{fn}_takes_value() {{
    case "$1" in
{takes}
        *) return 1 ;;
    esac
}}
{fn}_positional() {{
    case "$1" in
{_case(positional)}
    esac
}}
{fn}_reply() {{
    local list="$1" cur="$2" word
    if [[ "$list" == "{FILES}" ]]; then
        local IFS=$'\\n'
        COMPREPLY+=($(compgen -f -- "$cur"))
    else
        for word in $list; do
            [[ "$word" == "$cur"* ]] && COMPREPLY+=("$word")
        done
    fi
}}
{fn}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" word i skip=0 subs
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        if ((skip)); then skip=0; continue; fi
        if [[ "$word" == -* ]]; then
            {fn}_takes_value "$path|$word" && skip=1
            continue
        fi
        subs=" $({fn}_subcommands "$path" | tr '\\n' ' ') "
        if [[ "$subs" == *" $word "* ]]; then
            path="${{path:+$path }}$word"
        fi
    done
    if ((skip)); then
        {fn}_reply "$({fn}_values "$path|${{COMP_WORDS[COMP_CWORD-1]}}" | tr '\\n' ' ' | sed 's/ $//')" "$cur"
        return 0
    fi
    if [[ "$cur" == -* ]]; then
        {fn}_reply "$({fn}_options "$path")" "$cur"
        return 0
    fi
    subs="$({fn}_subcommands "$path")"
    if [[ -n "$subs" ]]; then
        {fn}_reply "$subs" "$cur"
    else
        {fn}_reply "$({fn}_positional "$path" | tr '\\n' ' ' | sed 's/ $//')" "$cur"
    fi
    return 0
}}
complete -o filenames -F {fn} {prog}
'''


def _fish(prog: str, table: dict[str, Command]) -> str:
    def quote(s: str) -> str:
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    lines = [f"# fish completion for {prog}: save as ~/.config/fish/completions/{prog}.fish "
             f"(made by `{prog} completion fish`)",
             f"complete -c {prog} -f"]
    for path, command in table.items():
        words = path.split()
        if words:
            condition = f"__fish_seen_subcommand_from {words[-1]}"
            if len(words) > 1:
                condition = f"__fish_seen_subcommand_from {' '.join(words[:-1])}; and {condition}"
            if command.subcommands:
                condition += f"; and not __fish_seen_subcommand_from {' '.join(command.subcommands)}"
        else:
            condition = "__fish_use_subcommand"
        for name, help in command.subcommands.items():
            lines.append(f"complete -c {prog} -n {quote(condition)} -a {quote(name)} -d {quote(help[:80])}")
        for option, help in command.options.items():
            flag = f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
            value = command.values.get(option)
            extra = ""
            if value == [FILES]:
                extra = " -r -F"
            elif value:
                extra = f" -x -a {quote(' '.join(value))}"
            elif value is not None:
                extra = " -x"
            lines.append(f"complete -c {prog} -n {quote(condition)} {flag}{extra} -d {quote(help[:80])}")
        if command.positional == [FILES]:
            lines.append(f"complete -c {prog} -n {quote(condition)} -F")
        elif command.positional:
            lines.append(f"complete -c {prog} -n {quote(condition)} -a {quote(' '.join(command.positional))}")
    return "\n".join(lines) + "\n"
