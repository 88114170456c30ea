"""Feature selectors: keep the columns get_support() names (RFE also predicts)."""

from __future__ import annotations

import numpy as np

from ._registry import predict, predictor, transformer
from .compose import select_columns

_SELECTORS = ("VarianceThreshold", "SelectKBest", "SelectPercentile", "SelectFpr", "SelectFdr", "SelectFwe",
              "GenericUnivariateSelect", "SelectFromModel", "RFE", "RFECV", "SequentialFeatureSelector")


@transformer(*_SELECTORS)
def _select(ctx, est, x):
    support = np.flatnonzero(est.get_support())
    names = getattr(est, "feature_names_in_", None)
    return select_columns(ctx, x, support, False, list(names) if names is not None else None)


@predictor("RFE", "RFECV")
def _rfe_predict(ctx, est, x):
    return predict(ctx, est.estimator_, _select(ctx, est, x))
