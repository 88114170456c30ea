"""Official ONNX backend-suite cases nnex does not run, each with a one-line reason.

Keys are regular expressions matched (re.search) against the test names that
onnx.backend.test.BackendTest generates (``test_<case>_cpu``).
"""

EXCLUDED: dict[str, str] = {
    # model zoo cases download their models from the internet; this project builds offline
    r"^test_(bvlc_alexnet|densenet121|inception_v1|inception_v2|resnet50|shufflenet|squeezenet|vgg19|zfnet512)_":
        "model-zoo case: the model is downloaded at test time, and CI has no internet access",
}
