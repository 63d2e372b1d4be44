"""The per-use stream contract of every stage: push / flush / end_input / aclose and
``async for event in stream``. A backend implements one coroutine, ``_run``."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

from voxloop.aio import cancel_and_wait, create_named_task
from voxloop.engines.types import LLMChunk, ToolCall, ToolCallDelta
from voxloop.errors import BackendError, VoxloopError

__all__ = ["FLUSH", "EngineStream", "LLMStream"]

InT = TypeVar("InT")
EvT = TypeVar("EvT")



class _Flush:
    __slots__ = ()


class _Barrier:
    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done


class _End:
    __slots__ = ()


FLUSH = _Flush()
_END = _End()


class EngineStream(ABC, Generic[InT, EvT]):
    """push / flush / end_input / aclose + ``async for event in stream``.

    Subclasses implement ``_run(inputs)``, reading items (or ``FLUSH`` markers) from
    ``inputs`` and calling ``self._emit(event)``. An exception in ``_run`` is raised to
    the consumer of the events.
    """

    def __init__(self, name: str) -> None:
        self._in: asyncio.Queue[InT | _Flush | _Barrier | _End] = asyncio.Queue()
        self._out: asyncio.Queue[EvT | _End | BaseException] = asyncio.Queue()
        self._input_ended = False
        self._task = create_named_task(self._main(), name)

    def push(self, item: InT) -> None:
        if self._input_ended:
            raise RuntimeError("push() after end_input()")
        self._in.put_nowait(item)

    def flush(self) -> None:
        if not self._input_ended:
            self._in.put_nowait(FLUSH)

    def end_input(self) -> None:
        if not self._input_ended:
            self._in.put_nowait(FLUSH)
            self._in.put_nowait(_END)
            self._input_ended = True

    async def aclose(self) -> None:
        """Stop at once and drop events not yet consumed: a closed stream yields nothing more."""
        self._input_ended = True
        await cancel_and_wait(self._task)
        while not self._out.empty():
            self._out.get_nowait()
        self._out.put_nowait(_END)

    def _emit(self, event: EvT) -> None:
        self._out.put_nowait(event)

    async def drained(self) -> None:
        """Wait until everything pushed so far has been processed: its events are queued."""
        if self._input_ended or self._task.done():
            return
        barrier: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in.put_nowait(_Barrier(barrier))
        await barrier

    async def _inputs(self) -> AsyncIterator[InT | _Flush]:
        while True:
            item = await self._in.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Barrier):  # _run asked for more: what came before is processed
                if not item.done.done():
                    item.done.set_result(None)
                continue
            yield item

    @abstractmethod
    async def _run(self, inputs: AsyncIterator[InT | _Flush]) -> None: ...

    async def _main(self) -> None:
        try:
            await self._run(self._inputs())
        except asyncio.CancelledError:
            self._out.put_nowait(_END)
            raise
        except VoxloopError as e:
            self._out.put_nowait(e)
        except Exception as e:  # a backend bug or crash: surface it as a backend error
            err = BackendError(f"{type(self).__name__} failed: {e}")
            err.__cause__ = e
            self._out.put_nowait(err)
        self._out.put_nowait(_END)

    def __aiter__(self) -> EngineStream[InT, EvT]:
        return self

    async def __anext__(self) -> EvT:
        item = await self._out.get()
        if isinstance(item, _End):
            self._out.put_nowait(item)  # stay exhausted
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item


class LLMStream:
    """An async iterator of text deltas (``str``) and, when the request offered tools, pieces
    of tool calls (:class:`ToolCallDelta`). ``tool_calls`` holds the calls assembled so far.
    ``aclose`` stops generation for real."""

    def __init__(self, deltas: AsyncIterator[LLMChunk], on_close: Callable[[], None] | None = None) -> None:
        self._deltas = deltas
        self._on_close = on_close
        self.tokens = 0
        self._calls: dict[int, list[str]] = {}  # index -> [call_id, name, arguments]

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> LLMChunk:
        delta = await self._deltas.__anext__()
        self.tokens += 1
        if isinstance(delta, ToolCallDelta):
            call = self._calls.setdefault(delta.index, ["", "", ""])
            if delta.call_id:
                call[0] = delta.call_id
            if delta.name:
                call[1] = delta.name
            call[2] += delta.arguments
        return delta

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls streamed so far, in index order."""
        return [ToolCall(c[0], c[1], c[2]) for _, c in sorted(self._calls.items())]

    def stop(self) -> None:
        """Tell the backend to stop generating, now and synchronously (``aclose`` does it too).
        Call it first when cleaning up, so a second cancellation cannot leave a generation
        running on a shared instance."""
        if self._on_close is not None:
            self._on_close()

    async def aclose(self) -> None:
        self.stop()
        aclose = getattr(self._deltas, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(RuntimeError):
                await aclose()
