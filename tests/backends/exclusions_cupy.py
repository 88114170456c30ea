"""Node tests not run on the cupy backend (GPU only), each with a one-line reason (regex -> reason):
torch's list, and four float16 Attention cases."""

from .exclusions_torch import EXCLUDED as _TORCH

EXCLUDED: dict[str, str] = {
    **_TORCH,
    r"^test_attention_4d(_causal|_gqa_with_past_and_present|_gqa_causal_nonpad_decode)?_fp16$":
        "1 float16 ulp in the softmax (CuPy's float16 elementwise kernels round a few values the other way "
        "from NumPy's; the scores agree bit for bit), 2 ulps in the output (rel 1.06e-3 > rtol 1e-3)",
}
