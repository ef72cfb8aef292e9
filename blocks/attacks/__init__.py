"""Attacks, one per file over a small common base (torchattacks style), chosen by name."""
from .base import Attack
from .fgsm import FGSM
from .pgd import PGD

ATTACKS = {"fgsm": FGSM, "pgd": PGD}

__all__ = ["ATTACKS", "Attack", "FGSM", "PGD"]
