"""convex_relu: two-layer ReLU networks trained by convex optimisation, with certificates.

See ``README.md`` for the scaling convention (``s = n·c``, λ not divided by ``n``).
"""

__version__ = "0.1.0"

from .certificates import Certificate, certify, certify_network
from .estimators import ConvexReLUClassifier, ConvexReLURegressor
from .model_selection import ConvexReLUClassifierCV, ConvexReLURegressorCV
from .networks import GatedReLUNetwork, ReLUNetwork, network_from_solution, network_from_weights
from .path import PathResult, lambda_grid, path_many, regularization_path
from .patterns import Patterns, enumerate_patterns, sample_patterns
from .problems import GatedReLUProblem, ReLUProblem, make_problem
from .solution import ConvergenceWarning, Solution, SolverWarning
from .solvers import solve

__all__ = [
    "Patterns",
    "sample_patterns",
    "enumerate_patterns",
    "GatedReLUProblem",
    "ReLUProblem",
    "make_problem",
    "solve",
    "Solution",
    "SolverWarning",
    "ConvergenceWarning",
    "Certificate",
    "certify",
    "certify_network",
    "ReLUNetwork",
    "GatedReLUNetwork",
    "network_from_solution",
    "network_from_weights",
    "ConvexReLURegressor",
    "ConvexReLUClassifier",
    "ConvexReLURegressorCV",
    "ConvexReLUClassifierCV",
    "regularization_path",
    "path_many",
    "PathResult",
    "lambda_grid",
    "__version__",
]
