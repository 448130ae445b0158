"""Credit decisioning: data, the champion scorecard, the LightGBM challenger, model artifacts,
champion/challenger experiments and model monitoring (see docs/concepts/decisioning-models.md).

Kept free of imports on purpose: the scorer must stay importable without pandas, optbinning or
LightGBM, and other parts of decisioning live beside these modules.
"""
