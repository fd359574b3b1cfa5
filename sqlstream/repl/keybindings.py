"""Keys of the prompt: Enter runs a finished statement and otherwise starts a new line;
Alt-Enter always inserts a newline; F4 (and Ctrl-X Ctrl-E) opens ``$EDITOR``; Ctrl-C
clears the buffer; Ctrl-D on an empty buffer leaves.

The only thing these bindings know of SQL is the ``should_submit`` rule they are given.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import has_focus
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.key_binding.bindings.named_commands import get_by_name
from prompt_toolkit.keys import Keys


def build_key_bindings(should_submit: Callable[[str], bool]) -> KeyBindings:
    kb = KeyBindings()
    focused = has_focus(DEFAULT_BUFFER)

    @kb.add("enter", filter=focused)
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if buffer.complete_state is not None and buffer.complete_state.current_completion is not None:
            buffer.complete_state = None  # Enter on a menu entry takes it
            return
        if buffer.complete_state is not None:
            buffer.cancel_completion()
        if should_submit(buffer.text):
            buffer.validate_and_handle()
        else:
            buffer.newline(copy_margin=False)

    @kb.add("escape", "enter", filter=focused)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.newline(copy_margin=False)

    @kb.add("f4", filter=focused)
    def _editor(event: KeyPressEvent) -> None:
        event.current_buffer.open_in_editor(validate_and_handle=False)

    @kb.add("c-x", "c-e", filter=focused)
    def _editor2(event: KeyPressEvent) -> None:
        event.current_buffer.open_in_editor(validate_and_handle=False)

    @kb.add(Keys.ControlSpace, filter=focused)
    def _complete(event: KeyPressEvent) -> None:
        get_by_name("menu-complete").call(event)

    return kb
