"""Run an iterator on a worker thread so its work overlaps with the caller's.

For passes where torch does the heavy lifting (it releases the GIL): e.g. the sheets' generator
pass runs ahead while the main thread draws and encodes. Items come back in order; an exception in
the iterator is re-raised in the caller at the point it happened; leaving the `with` block early stops
the worker after its current item.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


class Background:
    def __init__(self, items: Iterable[T], ahead: int = 2, name: str = "ganfix-background"):
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, ahead))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        items = iter(self._items)
        try:
            for item in items:
                if not self._put((True, item)):
                    return
        except BaseException as exc:  # noqa: BLE001 — handed to the caller, which re-raises it
            self._put((False, exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator stopped early runs its cleanup (e.g. removes hooks) here, now
                close()
        self._put((True, _DONE))

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._iterate()

    def _iterate(self) -> Iterator[T]:
        while True:
            ok, item = self._queue.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
