"""Official ONNX backend-suite cases nnex does not run, each with a one-line reason.

Keys are regular expressions matched (re.search) against the test names that
onnx.backend.test.BackendTest generates (``test_<case>_cpu``). Cases excluded only because
the suite cannot compare them are checked another way in test_excluded_cases.py.
"""

EXCLUDED: dict[str, str] = {
    r"^test_bernoulli(_double|_seed)?(_expanded)?_cpu$":
        "random output: the expected values are one draw of NumPy's generator; checked statistically instead",
    r"^test_loop16_seq_none_cpu$":
        "onnx's runner cannot compare a sequence holding a 0-d tensor (TypeError on len()); compared directly instead",
    r"^test_squeezenet_cpu$":
        "its 1000 logits are all 9.48e9 and equal in the expected output only by rounding: the softmax"
        " of 1-ulp differences (any other summation order of the last Conv) is one-hot; logits checked instead",
    r"^test_attention_4d_causal_fp16_expanded_cpu$":
        "1 float16 ulp: nnex computes float16 Softmax in float32 (as onnxruntime does), the expected values in float16",
}
