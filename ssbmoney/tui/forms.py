"""The modal forms: propose, deposit, spend.

Why one small form class with three field lists: the three forms differ only in
their fields, and sharing the behaviour keeps them consistent. A form checks its
input (through the same core functions the actions use) before it closes, so a
typo such as ``12,50`` is reported while the form is still open and can be fixed;
nothing is written until the form is valid and the action runs. Errors are shown
as a notification, with the same words the command line uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ssbmoney.core.errors import BadInput, SsbMoneyError

Values = dict[str, str]
Check = Callable[[Values], None]


class FieldError(BadInput):
    """Bad input in one field: the form puts the cursor back there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@contextmanager
def field(name: str) -> Iterator[None]:
    """Blame errors raised inside on the field ``name``."""
    try:
        yield
    except FieldError:
        raise
    except SsbMoneyError as err:
        raise FieldError(name, err.message) from None


class Field(NamedTuple):
    name: str
    label: str
    placeholder: str = ""


PROPOSE = (
    Field("title", "Title", "e.g. Server for a year"),
    Field("amount", "Amount", "e.g. 120.00"),
    Field("payee", "Payee (optional)", "who gets paid"),
    Field("category", "Category (optional)", "e.g. infrastructure"),
    Field("closes", "Closes (optional, ISO 8601, shown as a claim)", "e.g. 2025-06-01 18:00"),
)
DEPOSIT = (
    Field("amount", "Amount", "e.g. 500.00"),
    Field("note", "Note (optional)", "e.g. grant, first tranche"),
)
SPEND = (
    Field("amount", "Amount", "e.g. 40.00"),
    Field("note", "Note (optional)", "e.g. invoice 2025-014"),
)


class FormScreen(ModalScreen[Values | None]):
    """A titled set of inputs; dismissed with their values, or None when cancelled."""

    DEFAULT_CSS = """
    FormScreen {
        align: center middle;
    }
    FormScreen > Vertical {
        width: 64;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    FormScreen .title {
        text-style: bold;
        margin-bottom: 1;
    }
    FormScreen Label {
        margin-top: 1;
    }
    FormScreen #error {
        color: $error;
        height: auto;
    }
    FormScreen Horizontal {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    FormScreen Button {
        margin-left: 1;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: Sequence[Field], check: Check,
                 intro: str = "") -> None:
        super().__init__()
        self.form_title = title
        self.fields = tuple(fields)
        self.check = check
        self.intro = intro

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.form_title), classes="title")
            if self.intro:
                yield Static(Text(self.intro))
            for field in self.fields:
                yield Label(field.label)
                yield Input(placeholder=field.placeholder, id=field.name)
            yield Static("", id="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def values(self) -> Values:
        return {f.name: self.query_one(f"#{f.name}", Input).value for f in self.fields}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; on the last one it saves."""
        event.stop()
        if event.input.id == self.fields[-1].name:
            self.action_save()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        values = self.values()
        try:
            self.check(values)
        except SsbMoneyError as err:
            self.query_one("#error", Static).update(Text(err.message))
            self.app.notify(err.message, title="Not saved", severity="error", markup=False)
            if isinstance(err, FieldError):
                box = self.query_one(f"#{err.field}", Input)
                box.focus()
                box.select_all()
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
