"""The device device-aware tests run on: CPU here and in CI; ``LSTMKIT_TEST_DEVICE=cuda`` on a GPU machine
(``benchmarks/gpu_check.py`` runs the golden TensorFlow cases and the mixed-precision tests there)."""
import os

import torch

DEVICE = torch.device(os.environ.get("LSTMKIT_TEST_DEVICE", "cpu"))

# cuDNN runs float32 RNNs in TF32 (a 10-bit mantissa) under PyTorch's default allow_tf32=True; the float32
# tolerances here are float32's, so the tests turn it off (LSTMKIT_TEST_TF32=1 keeps PyTorch's default)
if DEVICE.type == "cuda" and os.environ.get("LSTMKIT_TEST_TF32") != "1":
    torch.backends.cudnn.allow_tf32 = False

# float32 outputs against TensorFlow's float64 golden values: cuDNN sums in another order than the CPU kernels
FLOAT32_ATOL = 5e-5 if DEVICE.type == "cuda" else 1e-5
