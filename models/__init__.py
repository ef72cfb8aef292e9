"""Classifiers: `load_classifier(name, device)` gives a pixel-space ImageNet model chosen by name."""
from . import (
           efficientnet,  # noqa: F401  (registers the EfficientNet-Lite models)
           quiet,  # noqa: F401  (first, before cv2: OpenCV's and FFmpeg's own log lines off the terminal)
)
from .backend import Backend, OnnxBackend, TorchBackend, make_backend  # noqa: F401  (inference: onnx or torch)
from .errors import UserError
from .imagenet import ANIMALS, CHICKENS, class_index, class_names, is_animal, slug
from .preprocess import load_photos, read_image, to_bgr, to_tensor
from .registry import list_models, load_classifier, register_model, resolve_device

__all__ = ["ANIMALS", "CHICKENS", "UserError", "class_index", "class_names", "is_animal", "list_models",
           "load_classifier", "load_photos", "read_image", "register_model", "resolve_device", "slug", "to_bgr",
           "to_tensor"]
