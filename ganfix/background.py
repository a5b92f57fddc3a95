"""Run an iterator on a worker thread so its work overlaps with the caller's.

For passes where torch does the heavy lifting (it releases the GIL): e.g. the sheets' generator
pass runs ahead while the main thread draws and encodes. Items come back in order; an exception in
the iterator is re-raised in the caller at the point it happened; leaving the `with` block early stops
the worker after its current item.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, TypeVar

T = TypeVar("T")
_DONE = object()


class Background:
    def __init__(self, items: Iterable[T], ahead: int | None = 2, name: str = "ganfix-background"):
        """ahead: how many items the worker may run ahead of the caller (None: no limit)."""
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=0 if ahead is None else max(1, ahead))
        self._stop = threading.Event()
        self._finished = False
        self.failed = threading.Event()  # set as soon as the iterator raised: the caller can stop its own work early
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
            self.failed.set()
            self._put((False, exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator stopped early runs its cleanup (e.g. removes hooks) here, now
                close()
        self._put((True, _DONE))

    def __enter__(self) -> "Background":
        self._thread.start()
        return self

    def __iter__(self) -> "Background":
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        ok, item = self._queue.get()
        if not ok or item is _DONE:
            self._finished = True
        if not ok:
            raise item
        if item is _DONE:
            raise StopIteration
        return item

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
