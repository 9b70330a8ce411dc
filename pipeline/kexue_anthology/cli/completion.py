"""Shell completion for `anthology`, made from its argparse parser: `anthology completion bash|zsh|fish`.

The parser is walked once into a table — for each command path ("", "build", "build pdf") its
subcommands, its options, which options take a value and what that value may be (choices, a
file, or anything) — and the table is written out in the shell's own terms, so that a new
option is completed without anyone touching this file.  zsh runs the bash script through its
`bashcompinit` (so the script names no variable zsh keeps for itself: its `path` is $PATH); fish
finds the command path from the words typed as the bash script does.  tests/test_names_exits.py
runs all three shells and asks that they offer the same words.
"""

from __future__ import annotations

import argparse
import re
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
    local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="" word i skip=0 subs
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        if ((skip)); then skip=0; continue; fi
        if [[ "$word" == -* ]]; then
            {fn}_takes_value "$cmd|$word" && skip=1
            continue
        fi
        subs=" $({fn}_subcommands "$cmd" | tr '\\n' ' ') "
        if [[ "$subs" == *" $word "* ]]; then
            cmd="${{cmd:+$cmd }}$word"
        fi
    done
    if ((skip)); then
        {fn}_reply "$({fn}_values "$cmd|${{COMP_WORDS[COMP_CWORD-1]}}" | tr '\\n' ' ' | sed 's/ $//')" "$cur"
        return 0
    fi
    if [[ "$cur" == -* ]]; then
        {fn}_reply "$({fn}_options "$cmd")" "$cur"
        return 0
    fi
    subs="$({fn}_subcommands "$cmd")"
    if [[ -n "$subs" ]]; then
        {fn}_reply "$subs" "$cur"
    else
        {fn}_reply "$({fn}_positional "$cmd" | tr '\\n' ' ' | sed 's/ $//')" "$cur"
    fi
    return 0
}}
complete -o filenames -F {fn} {prog}
'''


def _fish_quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_switch(cases: dict[str, str], otherwise: str = "") -> list[str]:
    """A fish function's body: a `switch` over $argv[1] (keys → what to do), then `otherwise`."""
    lines = ["    switch $argv[1]"]
    for keys, then in cases.items():
        lines += [f"        case {keys}", f"            {then}"]
    return lines + ["    end"] + ([f"    {otherwise}"] if otherwise else [])


def _fish(prog: str, table: dict[str, Command]) -> str:
    """Fish's completions, each under the condition that the command path so far is its own: the
    path found from the words before the cursor as the bash script finds it (an option's value
    is no subcommand), so that the two shells offer the same words."""
    quote = _fish_quote
    fn = "__" + prog.replace("-", "_")
    subcommands = {quote(path): "printf '%s\\n' " + " ".join(map(quote, c.subcommands))
                   for path, c in table.items() if c.subcommands}
    takes = " \\\n             ".join(quote(f"{path}|{option}") for path, c in table.items() for option in c.values)
    lines = [f"# fish completion for {prog}: save as ~/.config/fish/completions/{prog}.fish "
             f"(made by `{prog} completion fish`)",
             f"function {fn}_subcommands", *_fish_switch(subcommands), "end",
             f"function {fn}_takes_value", *_fish_switch({takes: "return 0"}, "return 1"), "end",
             f"function {fn}_command",
             "    set -l cmd ''",
             "    set -l skip 0",
             "    for word in (commandline -opc)[2..-1]",
             "        if test $skip = 1",
             "            set skip 0",
             "        else if string match -q -- '-*' $word",
             f"            {fn}_takes_value \"$cmd|$word\"; and set skip 1",
             f"        else if contains -- $word ({fn}_subcommands $cmd)",
             "            set cmd (string trim -- \"$cmd $word\")",
             "        end",
             "    end",
             "    echo $cmd",
             "end",
             f"function {fn}_at",
             f"    set -l cmd ({fn}_command)",
             "    test \"$cmd\" = \"$argv[1]\"",
             "end",
             f"complete -c {prog} -f"]
    for path, command in table.items():
        at = f"{fn}_at {quote(path)}" if path else f"{fn}_at"
        condition = '"' + re.sub(r'(["$\\])', r"\\\1", at) + '"'
        for name, help in command.subcommands.items():
            lines.append(f"complete -c {prog} -n {condition} -a {quote(name)} -d {quote(help[:80])}")
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
            lines.append(f"complete -c {prog} -n {condition} {flag}{extra} -d {quote(help[:80])}")
        if command.positional == [FILES]:
            lines.append(f"complete -c {prog} -n {condition} -F")
        elif command.positional:
            lines.append(f"complete -c {prog} -n {condition} -a {quote(' '.join(command.positional))}")
    return "\n".join(lines) + "\n"
