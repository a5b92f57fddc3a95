"""The preference-study page: one pair at a time, ←/→ (or 1/2) picks the more realistic image,
space skips. Every answer is appended (fsync) to the rater's file before the reply, so a reload or
a killed server resumes at the first pair without an answer."""
from __future__ import annotations

from ..errors import UsageError
from ..study.answers import CHOICES, AnswerLog
from ..study.build import Study, rater_plan
from .server import Page, Session, json_object


class StudySession(Session):
    def __init__(self, study: Study, rater: str):
        super().__init__()
        self.study = study
        self.log = AnswerLog(study, rater)
        self.plan = rater_plan(study, rater)

    def _pair(self, entry: dict | None) -> dict | None:
        if entry is None:
            return None
        return {"trial": entry["trial"], "position": entry["position"],
                "left": self.study.image(entry["sample"], entry["left"]),
                "right": self.study.image(entry["sample"], entry["right"])}

    def _state(self) -> dict:
        done = {a["trial"]: a for a in self.log.answers()}
        todo = [e for e in self.plan if e["trial"] not in done]
        return {"rater": self.log.rater, "file": str(self.log.path), "total": len(self.plan), "done": len(done),
                "skipped": sum(a["choice"] == "skip" for a in done.values()),
                "current": self._pair(todo[0] if todo else None), "next": self._pair(todo[1] if len(todo) > 1 else None)}

    def answer(self, body) -> dict:
        """body: {"trial": int, "choice": "left"|"right"|"skip", "ms": number?} for the current pair."""
        json_object(body)
        choice, trial, ms = body.get("choice"), body.get("trial"), body.get("ms")
        if choice not in CHOICES:
            raise UsageError(f"'choice' must be one of {', '.join(CHOICES)}")
        with self._lock:
            state = self._state()
            cur = state["current"]
            if cur is None:
                raise UsageError("the study is complete: every pair has an answer")
            if trial != cur["trial"]:
                raise UsageError(f"pair {trial!r} is not the current one ({cur['trial']}); reload the page")
            entry = self.plan[cur["position"]]
            rec = {"trial": entry["trial"], "sample": entry["sample"], "kind": entry["kind"], "left": entry["left"],
                   "right": entry["right"], "choice": choice, "position": entry["position"]}
            if ms is not None:
                rec["ms"] = ms
            self.log.append(rec)  # on disk (fsync) before the reply
            return self._state()


def study_page(session: StudySession) -> Page:
    return Page("study", state=session.state, actions={"answer": session.answer},
                folders={"images": session.study.dir / "images"}, title="preference study")
