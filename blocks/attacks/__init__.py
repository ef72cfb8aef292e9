"""Attacks, one per file over a small common base (torchattacks style), chosen by name.

FGSM and PGD change each image; EOTPatch optimises one block shared by every image (block training).
"""
from .base import Attack
from .eot import EOTPatch
from .fgsm import FGSM
from .pgd import PGD

ATTACKS = {"fgsm": FGSM, "pgd": PGD}      # per-image attacks, by name

__all__ = ["ATTACKS", "Attack", "EOTPatch", "FGSM", "PGD"]
