"""The challenger: gradient-boosted trees (LightGBM) on the same characteristics as the card.

* Monotone constraints where the direction of risk is known a priori (``risk_direction`` in
  data.py): risk rises with the duration, the amount and the instalment burden, and falls with
  age. Other numeric characteristics and all categoricals are unconstrained.
* Categoricals are encoded explicitly as the index of their code in data.py (unknown -> NaN,
  which LightGBM treats as missing) and declared as categorical features.
* Deterministic: fixed seed, ``deterministic=True``, one thread, the number of rounds chosen by
  5-fold stratified cross-validation on the training set only.
* Missing or unknown values are imputed with the training median (numeric) or most frequent
  code (categorical) before prediction. The training data has no missing values, so LightGBM
  would otherwise map a missing number to 0 (the safest duration, the smallest amount): leaving a
  field out must never buy a better score.
* PD = logistic(raw margin); score = offset - factor * margin on the card's scale, so the same
  tiers apply. Reasons: the (at most four) largest positive SHAP contributions
  (``pred_contrib=True``), mapped to the card's reason codes, with their cost in points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lendcore.decisioning.data import CHARACTERISTICS, Characteristic
from lendcore.decisioning.scorecard import (
    MAX_REASONS,
    SCALING,
    Reason,
    Scaling,
    ScoreResult,
    wrong_type,
)
from lendcore.kernel.errors import ErrorCode, ValidationError

if TYPE_CHECKING:
    import lightgbm
    import numpy as np
    import pandas as pd

FORMAT = "lendcore.lightgbm/1"
SEED = 7
CV_FOLDS = 5
MAX_ROUNDS = 1000
EARLY_STOPPING = 50

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 7,
    "max_depth": 3,
    "min_data_in_leaf": 30,
    "lambda_l2": 1.0,
    "feature_fraction": 0.8,
    "min_data_per_group": 20,
    "cat_smooth": 10.0,
    "max_cat_to_onehot": 4,
    "monotone_constraints_method": "advanced",
    "seed": SEED,
    "deterministic": True,
    "num_threads": 1,
    "force_col_wise": True,
    "verbosity": -1,
}


def monotone_constraints(characteristics: Sequence[Characteristic]) -> list[int]:
    return [c.risk_direction if c.kind == "numeric" else 0 for c in characteristics]


def encode_frame(frame: pd.DataFrame, characteristics: Sequence[Characteristic]) -> np.ndarray:
    """Training matrix: numeric as is, categorical as the index of the code (unknown -> NaN)."""
    import numpy as np

    matrix = np.empty((len(frame), len(characteristics)), dtype=np.float64)
    for j, c in enumerate(characteristics):
        column = frame[c.name]
        if c.kind == "categorical":
            index = {code: float(i) for i, code in enumerate(c.codes)}
            matrix[:, j] = [index.get(v, math.nan) for v in column]
        else:
            matrix[:, j] = column.to_numpy(dtype=np.float64)
    return matrix


def fit_challenger(
    frame: pd.DataFrame,
    bad: np.ndarray,
    characteristics: Sequence[Characteristic] = CHARACTERISTICS,
) -> tuple[lightgbm.Booster, dict[str, Any]]:
    """Train the booster; returns it with the parameters and round count actually used."""
    import lightgbm as lgb

    params = {**PARAMS, "monotone_constraints": monotone_constraints(characteristics)}
    names = [c.name for c in characteristics]
    categorical = [j for j, c in enumerate(characteristics) if c.kind == "categorical"]
    dataset = lgb.Dataset(
        encode_frame(frame, characteristics),
        label=bad,
        feature_name=names,
        categorical_feature=categorical,
        free_raw_data=False,
    )
    history = lgb.cv(
        params,
        dataset,
        num_boost_round=MAX_ROUNDS,
        nfold=CV_FOLDS,
        stratified=True,
        seed=SEED,
        callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)],
    )
    losses: list[float] = history["valid binary_logloss-mean"]  # type: ignore[assignment]
    rounds = len(losses)
    booster = lgb.train(params, dataset, num_boost_round=rounds)
    return booster, {**params, "num_boost_round": rounds, "cv_folds": CV_FOLDS}


def imputation_values(
    frame: pd.DataFrame, characteristics: Sequence[Characteristic] = CHARACTERISTICS
) -> dict[str, float | str]:
    """Training median (numeric) or most frequent code (categorical, ties: first in data.py)."""
    values: dict[str, float | str] = {}
    for c in characteristics:
        column = frame[c.name]
        if c.kind == "numeric":
            values[c.name] = float(column.median())
        else:
            counts = column.value_counts()
            values[c.name] = max(
                c.codes, key=lambda code: (int(counts.get(code, 0)), -c.codes.index(code))
            )
    return values


def export_challenger(
    booster: lightgbm.Booster,
    params: Mapping[str, Any],
    impute: Mapping[str, float | str],
    characteristics: Sequence[Characteristic] = CHARACTERISTICS,
    scaling: Scaling = SCALING,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "scaling": scaling.to_dict(),
        "features": [
            {
                "name": c.name,
                "kind": c.kind,
                "code": c.code,
                "label_zh": c.label_zh,
                "label_en": c.label_en,
                "categories": list(c.codes),
                "monotone": c.risk_direction if c.kind == "numeric" else 0,
                "impute": impute[c.name],
            }
            for c in characteristics
        ],
        "params": dict(params),
        "model": booster.model_to_string(),
    }


class ChallengerModel:
    """A loaded challenger: encodes a credit_profile, predicts PD, score and reasons."""

    def __init__(self, data: Mapping[str, Any]):
        import lightgbm as lgb

        if data.get("format") != FORMAT:
            raise ValidationError(ErrorCode.INVALID_MODEL, f"not a {FORMAT} document")
        try:
            self.scaling = Scaling.from_dict(data["scaling"])
            self.features: list[dict[str, Any]] = list(data["features"])
            self.booster = lgb.Booster(model_str=data["model"])
        except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as exc:
            raise ValidationError(ErrorCode.INVALID_MODEL, f"challenger: {exc!r}") from None
        if self.booster.num_feature() != len(self.features):
            raise ValidationError(ErrorCode.INVALID_MODEL, "challenger: feature count mismatch")
        self._index = [
            {code: float(i) for i, code in enumerate(f["categories"])} for f in self.features
        ]
        self._impute = [
            float(f["impute"]) if f["kind"] == "numeric" else index[f["impute"]]
            for f, index in zip(self.features, self._index, strict=True)
        ]

    def encode(self, profile: Mapping[str, Any]) -> tuple[list[float], tuple[str, ...]]:
        """The feature row (missing and unknown values imputed) and the imputed names."""
        if not isinstance(profile, Mapping):
            raise ValidationError(
                ErrorCode.INVALID_PROFILE,
                f"credit_profile must be an object, got {type(profile).__name__}",
            )
        row: list[float] = []
        missing: list[str] = []
        for feature, index, fallback in zip(self.features, self._index, self._impute, strict=True):
            name = feature["name"]
            value = profile.get(name)
            x = math.nan
            if value is None or (isinstance(value, float) and math.isnan(value)):
                pass
            elif feature["kind"] == "numeric":
                if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                    raise wrong_type(name, "a number", value)
                x = float(value)
            else:
                if not isinstance(value, str):
                    raise wrong_type(name, "a category code (string)", value)
                x = index.get(value, math.nan)
            if math.isnan(x):
                missing.append(name)
                x = fallback
            row.append(x)
        return row, tuple(missing)

    def margins(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """Raw margins (log-odds of bad) for encoded rows, in one call."""
        import numpy as np

        out = self.booster.predict(np.asarray(rows, dtype=np.float64), raw_score=True)
        return [float(m) for m in out]

    def score_without_reasons(self, profile: Mapping[str, Any]) -> ScoreResult:
        """Score and PD from the raw margin, no SHAP contributions (for a shadow arm: ~50 µs
        where :meth:`score` takes ~220 µs, nearly all TreeSHAP). The margin is the sum of the
        contributions :meth:`score` adds up, so the score and PD are the same."""
        import numpy as np

        row, missing = self.encode(profile)
        margin = float(
            self.booster.predict(
                np.asarray([row], dtype=np.float64), raw_score=True, num_threads=1
            )[0]
        )
        return ScoreResult(
            round(self.scaling.score_from_margin(margin), 2), _logistic(margin), (), missing
        )

    def score(self, profile: Mapping[str, Any]) -> ScoreResult:
        import numpy as np

        row, missing = self.encode(profile)
        contrib = self.booster.predict(
            np.asarray([row], dtype=np.float64), pred_contrib=True, num_threads=1
        )[0]
        margin = float(contrib.sum())  # per-feature contributions + the base value (last)
        pushes = sorted(
            ((-float(contrib[j]), j) for j in range(len(self.features)) if contrib[j] > 0),
        )
        factor = self.scaling.factor
        reasons = tuple(
            Reason(
                self.features[j]["code"],
                self.features[j]["name"],
                round(-neg * factor, 2),
                self.features[j]["label_zh"],
                self.features[j]["label_en"],
            )
            for neg, j in pushes[:MAX_REASONS]
        )
        return ScoreResult(
            round(self.scaling.score_from_margin(margin), 2),
            _logistic(margin),
            reasons,
            missing,
        )


def _logistic(margin: float) -> float:
    if margin >= 0:
        return 1.0 / (1.0 + math.exp(-margin))
    e = math.exp(margin)
    return e / (1.0 + e)
