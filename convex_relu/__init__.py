"""convex_relu: two-layer ReLU networks trained by convex optimisation, with certificates.

See ``README.md`` for the scaling convention (``s = n·c``, λ not divided by ``n``).
"""

from .patterns import Patterns, enumerate_patterns, sample_patterns
from .problems import GatedReLUProblem, ReLUProblem, make_problem
from .solution import ConvergenceWarning, Solution, SolverWarning

__version__ = "0.1.0"

__all__ = [
    "Patterns",
    "sample_patterns",
    "enumerate_patterns",
    "GatedReLUProblem",
    "ReLUProblem",
    "make_problem",
    "Solution",
    "SolverWarning",
    "ConvergenceWarning",
    "__version__",
]
