"""How output is rendered (:class:`Style`) and one child's pipe as the multiplexer sees it."""

from __future__ import annotations

from prodserver.records import NamedTuple

#: ``--log-format``
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    LogFormat = Literal["text", "json"]


class Style(NamedTuple):
    """How lines are rendered."""

    color: bool = False
    timestamps: bool = False
    fmt: LogFormat = "text"
    #: neutralise control characters (when the output is not a terminal)
    sanitize: bool = True
    #: width the labels are padded to
    width: int = 0


class Stream:
    """One pipe of one child: where its bytes are buffered and how its lines are prefixed."""

    __slots__ = (
        "_json_head",
        "_json_head_ts",
        "_nl_prefix",
        "_prefix",
        "_prefix_ts",
        "color",
        "instance",
        "label",
        "pending",
        "pending_since",
        "process",
        "stream",
    )

    def __init__(self, label: str, process: str, instance: int | None, stream: str, color: int):
        self.label = label
        self.process = process
        self.instance = instance
        self.stream = stream
        self.color = color
        self.pending = b""
        self.pending_since = 0.0
        self._prefix = b""
        self._nl_prefix = b"\n"
        self._prefix_ts = ""
        self._json_head = ""
        self._json_head_ts = ""
