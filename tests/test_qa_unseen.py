"""Regressions found by trying ganfix as a new user would, on generators, data and extractors it never
saw (qa trial): each test reproduces one defect with a tiny model written here."""
from __future__ import annotations

import torch
import torch.nn as nn

from cli_helpers import cli, one_line_error

MODELS = '''
import torch
import torch.nn as nn

class FlatMLP(nn.Module):
    latent_dim = 8
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(8, 32)
        self.act = nn.ReLU()
        self.out = nn.Linear(32, 400)
    def forward(self, z):
        return torch.tanh(self.out(self.act(self.fc(z))))

def flat():
    return FlatMLP()
'''


def write_models(tmp_path):
    path = tmp_path / "qa_models.py"
    path.write_text(MODELS)
    return str(path)


def test_sheets_of_a_flat_output_generator_without_image_shape_is_a_usage_error(tmp_path):
    """annotate on an [N, 400] generator without --image-shape crashed (exit 3) in the sheet layout."""
    spec = write_models(tmp_path) + ":flat"
    res = cli("annotate", spec, "--layer", "act", "--samples", "20", "--top", "2", "--no-serve",
              "--out", tmp_path / "sheets", "--no-cache")
    one_line_error(res, "--image-shape 1,20,20")
    assert not (tmp_path / "sheets").exists()


COND = '''
import torch
import torch.nn as nn

class Cond(nn.Module):
    nz = 8
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.fc = nn.Linear(16, 3 * 16 * 16)
    def forward(self, z, c):
        return torch.tanh(self.fc(torch.cat([z, self.emb(c)], 1))).view(-1, 3, 16, 16)

def cond():
    return Cond()
'''


def test_conditional_generator_forward_z_c_is_refused_in_one_actionable_line(tmp_path):
    """A class-conditional forward(z, c) got a message blaming the latent shape ("fix the module, or pass
    --z-shape"), and with --z-shape a forward error: neither says that ganfix calls forward(z) only."""
    (tmp_path / "cond.py").write_text(COND)
    spec = f"{tmp_path / 'cond.py'}:cond"
    one_line_error(cli("layers", spec), "forward(z, c)", "subclass")
    one_line_error(cli("layers", spec, "--z-shape", "8"), "forward(z, c)", "subclass")
