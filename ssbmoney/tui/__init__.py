"""The terminal UI (Textual). Nothing outside this package imports Textual.

One screen or widget per module: ``app`` picks a screen; ``budget`` is the group
screen (layout, keys, workers); ``summary``, ``proposals``, ``decided``, ``detail``,
``members``, ``flags`` and ``statehash`` are its parts, ``table`` the keyed table the
two proposal lists share; ``forms``, ``confirm`` and ``empty`` are the other screens.
``live`` (no Textual) keeps the folded view current and runs actions; ``words`` (no
Textual) is how things are worded.
"""
