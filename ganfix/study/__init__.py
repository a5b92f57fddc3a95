"""Two-alternative forced-choice preference study (GAN Dissection's Table 1 human study).

build_study renders original / patched / random-ablated images of the same latents;
rater_plan gives each rater a randomised order and left/right placement (recorded with every
answer); AnswerLog appends answers (fsync) to answers.jsonl / answers-<rater>.jsonl;
study_report computes the preference for patched and for random over the original with 95 %
intervals and a two-sided binomial test against 50 %, per rater and pooled.
"""
from .answers import AnswerLog, import_answer_files, import_answers, read_answers, rater_file
from .build import Study, build_study, load_study, make_study, rater_plan, study_patches
from .report import binomial_two_sided, study_report, wilson_interval

__all__ = ["AnswerLog", "Study", "binomial_two_sided", "build_study", "import_answer_files", "import_answers", "load_study", "make_study", "rater_file",
           "rater_plan", "read_answers", "study_patches", "study_report", "wilson_interval"]
