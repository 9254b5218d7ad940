# An algo-accuracy submission: classify a 2-D point as inside (1) or outside (0) the circle.
def predict(features):
    x, y = features
    return 1 if x * x + y * y < 0.5 else 0
