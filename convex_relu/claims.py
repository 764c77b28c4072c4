"""What a certificate proves, in one sentence: claims graded by the evidence.

Every claim the package prints (the command line, the cross-check's summary, the
notebooks) is made here, by :func:`claim`, from three pieces of evidence only:

1. **the certificate** ``D <= p* <= P`` (:func:`convex_relu.certificates.certify` or
   :func:`~convex_relu.certificates.certify_network`), read through its primal and
   dual values — the gap is recomputed here as ``P − D``, never taken on trust;
2. **the program** it bounds: C-ReLU (``formulation="relu"``) or the gated
   relaxation C-GReLU, and the number of outputs ``c``;
3. **the pattern set**: complete (every chamber of the arrangement enumerated, none
   dropped, or every chamber priced at the certificate's dual point: ``all_chambers``)
   or not (sampled gates, or an enumeration that dropped numerically empty
   candidates).

The levels, from strongest to weakest (:data:`LEVELS`):

``global_optimum``
    C-ReLU, complete patterns, one output, and certified relative gap
    ``(P − D)/|P| <= tol``. With all patterns, ``p*`` is the minimum of weight-decay
    training over two-layer ReLU networks of every width (Pilanci & Ergen 2020), so
    the network is a global optimum up to the stated gap.
``one_output_per_neuron``
    As above with ``c > 1`` outputs. The one-vs-all program (one group per output and
    pattern) describes networks whose hidden neurons each feed one output; a dense
    network sharing neurons between outputs can reach a lower objective, so the
    optimum holds only among networks whose hidden neurons each feed one output.
``optimal_over_patterns``
    C-ReLU with an incomplete pattern set and the gap met: optimal over those
    patterns only.
``gated_optimum``
    C-GReLU with the gap met: the optimal gated ReLU model for these gates (a
    convex relaxation of ReLU training, not a ReLU network's optimum).
``convex_optimum``
    The gap is met but the problem's penalty has no exact non-convex equivalent
    (``problem.penalty.network_equivalent`` is false: feature group, L1, L2, group
    elastic net): the weights are the certified optimum of the convex program with
    that penalty, and nothing is claimed about weight-decay training of a network.
    Every network-level claim above requires ``network_equivalent``.
``within_gap``
    A valid certificate whose relative gap exceeds ``tol`` but is below 100 %: the
    sentence says how far from optimal the model is proven to be, and over what.
``no_claim``
    Relative gap of 100 % or more (nothing useful is proven), a non-finite value, or
    an invalid certificate (dual above primal beyond round-off, which weak duality
    forbids: the certificate itself is wrong).

A negative gap within the round-off of evaluating the certificate
(:func:`convex_relu.certificates.dual_roundoff`, ``1e-12·(|P| + ℓ(0))``) is read as
0. At ``λ = 0`` the sentence adds what the dual bound is built from (the
certificate's ``dual_note``), since the bound may be the trivial 0.

The function is pure: it returns a :class:`Claim` and prints nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Claim", "LEVELS", "OPTIMAL_LEVELS", "claim", "describe_percent"]

#: Claim levels, strongest first.
LEVELS = (
    "global_optimum",
    "one_output_per_neuron",
    "optimal_over_patterns",
    "gated_optimum",
    "convex_optimum",
    "within_gap",
    "no_claim",
)

#: Levels at which the certified relative gap met the tolerance.
OPTIMAL_LEVELS = LEVELS[:5]


@dataclass(frozen=True)
class Claim:
    """A graded claim.

    Attributes
    ----------
    level : str
        One of :data:`LEVELS`.
    sentence : str
        What is proven, in words.
    primal, dual, gap, relative_gap : float
        The evidence: ``gap = primal − dual`` (recomputed), ``relative_gap =
        gap / |primal|``; a negative gap within round-off is reported as 0.
    tol : float
        The relative gap the claim was judged against.
    complete : bool
        Whether the pattern set is complete (enumerated, none dropped).
    formulation : str
    outputs : int
    valid : bool
        ``False`` when the certificate is invalid or not finite.
    """

    level: str
    sentence: str
    primal: float
    dual: float
    gap: float
    relative_gap: float
    tol: float
    complete: bool
    formulation: str
    outputs: int
    valid: bool

    @property
    def optimal(self):
        """Whether the certified gap met ``tol`` (one of :data:`OPTIMAL_LEVELS`)."""
        return self.level in OPTIMAL_LEVELS

    def to_dict(self):
        def f(v):
            return v if math.isfinite(v) else str(v)

        return {
            "level": self.level,
            "sentence": self.sentence,
            "primal": f(self.primal),
            "dual": f(self.dual),
            "gap": f(self.gap),
            "relative_gap": f(self.relative_gap),
            "tol": self.tol,
            "complete": self.complete,
            "formulation": self.formulation,
            "outputs": self.outputs,
            "valid": self.valid,
        }

    def __str__(self):
        return self.sentence


def describe_percent(fraction):
    """``0.032`` → ``"3.2 %"``; small fractions in scientific notation (``"1.2e-05 %"``)."""
    pct = 100.0 * float(fraction)
    if not math.isfinite(pct):
        return f"{pct} %"
    if pct >= 0.01:
        return f"{pct:.3g} %"
    return f"{pct:.1e} %"


def _number(value, name):
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number; got {value!r}.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number; got {value!r}.") from None
    return out


def _zero_loss(problem):
    """``ℓ(0)``: the objective of the zero network, the natural scale of the objective."""
    try:
        return float(problem.loss_value(np.zeros_like(problem.Y)))
    except Exception:  # a problem-like object without a loss: no scale known
        return 0.0


def _roundoff(problem, primal, ell0):
    try:
        from .certificates import dual_roundoff
    except ImportError:  # older certificates module
        dual_roundoff = None
    if dual_roundoff is not None:
        try:
            return float(dual_roundoff(problem, primal))
        except Exception:
            pass
    return 1e-12 * (abs(primal) + ell0)


def _evidence(certificate):
    """``(primal, dual)`` of a Certificate, or of a NetworkCertificate's network."""
    net = getattr(certificate, "network_objective", None)
    if net is not None and math.isfinite(float(net)):
        primal = _number(net, "certificate.network_objective")
    else:
        primal = _number(getattr(certificate, "primal"), "certificate.primal")
    dual = _number(getattr(certificate, "dual"), "certificate.dual")
    return primal, dual


def claim(problem, certificate, *, tol, formulation=None, dropped=0, subject=None, width=None,
          all_chambers=False):
    """The strongest claim the evidence supports (see the module docstring).

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
        The problem the certificate bounds (its patterns, outputs and λ).
    certificate : Certificate or NetworkCertificate
        For a NetworkCertificate the network's own objective is the primal.
    tol : float > 0
        Certified relative gap required for an optimality claim.
    formulation : {"relu", "gated_relu"}, optional
        The program the certificate bounds; default the certificate's
        ``formulation``, else the problem's.
    dropped : int >= 0
        Candidate patterns known to be missing (added to ``patterns.n_dropped``).
    subject : str, optional
        What the sentence is about (default "this ReLU network" / "this gated ReLU
        model").
    width : int, optional
        Number of hidden neurons, named in the sentence.
    all_chambers : bool
        The certificate's dual point was checked feasible for **every** chamber of
        the arrangement (a :class:`convex_relu.pricing.GlobalCertificate` of column
        generation): its dual value bounds the program over all patterns even though
        ``problem`` holds only a working set, so the evidence is that of a complete
        pattern set.

    Returns
    -------
    Claim
    """
    tol = _number(tol, "tol")
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0; got {tol!r}.")
    if isinstance(dropped, bool) or not isinstance(dropped, (int, np.integer)) or dropped < 0:
        raise ValueError(f"dropped must be an integer >= 0; got {dropped!r}.")
    if width is not None and (isinstance(width, bool) or not isinstance(width, (int, np.integer))
                              or width < 0):
        raise ValueError(f"width must be an integer >= 0 or None; got {width!r}.")
    patterns = getattr(problem, "patterns", None)
    if patterns is None or not hasattr(patterns, "method"):
        raise TypeError(
            f"problem must be a GatedReLUProblem or ReLUProblem (with patterns); "
            f"got {type(problem).__name__}."
        )
    if certificate is None or not hasattr(certificate, "dual"):
        raise TypeError(
            f"certificate must be a Certificate from convex_relu.certificates.certify; "
            f"got {type(certificate).__name__}."
        )
    form = formulation or getattr(certificate, "formulation", "") or problem.formulation
    if form not in ("relu", "gated_relu"):
        raise ValueError(f"formulation must be 'relu' or 'gated_relu'; got {form!r}.")

    primal, dual = _evidence(certificate)
    c = int(getattr(problem, "c", 1))
    lam = float(getattr(problem, "lam", float("nan")))
    n_dropped = int(dropped) + int(getattr(patterns, "n_dropped", 0) or 0)
    if not isinstance(all_chambers, (bool, np.bool_)):
        raise TypeError(f"all_chambers must be a bool; got {all_chambers!r}.")
    complete = (bool(all_chambers) or bool(getattr(patterns, "complete", patterns.method == "enumerated"))) \
        and n_dropped == 0
    ell0 = _zero_loss(problem)
    note = str(getattr(certificate, "dual_note", "") or "")

    gated = form == "gated_relu"
    if subject is None:
        subject = "this gated ReLU model" if gated else "this ReLU network"
    if width is not None:
        subject = f"{subject} of width {int(width)}"
    Subject = subject[:1].upper() + subject[1:]

    def make(level, sentence, gap=float("nan"), rel=float("nan"), valid=True):
        return Claim(level=level, sentence=sentence, primal=primal, dual=dual, gap=gap,
                     relative_gap=rel, tol=tol, complete=complete, formulation=form,
                     outputs=c, valid=valid)

    # --- is the certificate itself sound? -----------------------------------------------
    if not (math.isfinite(primal) and math.isfinite(dual)):
        return make("no_claim",
                    f"The certificate is not finite (primal {primal:.6g}, dual bound {dual:.6g}); "
                    "no claim is made.", valid=False)
    gap = primal - dual
    slack = _roundoff(problem, primal, ell0)
    if gap < -slack:
        return make(
            "no_claim",
            f"The certificate is invalid: its dual bound {dual:.10g} exceeds the primal value "
            f"{primal:.10g} by {-gap:.3g}, beyond the round-off {slack:.1e} that weak duality "
            "allows; no claim is made.",
            gap=gap, rel=gap / max(abs(primal), np.finfo(float).tiny), valid=False,
        )
    gap = max(gap, 0.0)  # within round-off of 0
    rel = gap / max(abs(primal), np.finfo(float).tiny)
    met = rel <= tol
    evidence = f"certified relative gap {rel:.2e} {'<=' if met else '>'} tol {tol:g}"

    # --- the scope of the program ----------------------------------------------------------
    shared = (" among networks whose hidden neurons each feed one output (the one-vs-all "
              "program; a dense network whose neurons are shared between outputs can do better)")
    shared_gated = " among models whose hidden neurons each feed one output (one-vs-all)"
    if gated:
        best = "the best gated ReLU model for these gates" + (shared_gated if c > 1 else "")
    elif complete and c == 1:
        best = "the best two-layer ReLU network of any width on these data"
    elif complete:
        best = ("the best two-layer ReLU network of any width on these data among networks "
                "whose hidden neurons each feed one output")
    else:
        best = "the best network over these activation patterns" + (shared if c > 1 else "")
    if not gated and not complete:
        if n_dropped:
            why = (f"enumeration dropped {n_dropped} candidate pattern(s) whose chamber is "
                   "numerically empty, so the pattern set may be incomplete")
        else:
            why = ("the patterns were sampled; enumerate them all (or sample more gates) for a "
                   "certificate of global optimality")
    lam_note = ""
    if lam == 0:
        stripped = note[len("λ = 0:"):].strip() if note.startswith("λ = 0:") else note
        lam_note = (f" At λ = 0 the dual bound comes from: {stripped}." if stripped else
                    " At λ = 0 (no weight decay) the dual bound can be weak or trivial.")
    elif "fell back" in note:
        lam_note = f" The dual bound: {note}."

    # --- a penalty whose convex program is no network's training problem ----------------
    pen = getattr(problem, "penalty", None)
    equivalent = bool(getattr(pen, "network_equivalent", True)) if pen is not None else True
    if not equivalent:
        pname = str(getattr(pen, "name", type(pen).__name__))
        program = f"the convex {'C-GReLU' if gated else 'C-ReLU'} program with the {pname} penalty"
        scope = ("" if gated or complete else " over these activation patterns")
        caveat = (f"The {pname} penalty has no exact non-convex equivalent, so this is not a "
                  "claim about weight-decay training of a network.")
        best = f"the optimum of {program}{scope}"
        if met:
            sentence = (f"{Subject} is the certified optimum of {program}{scope} ({evidence}). "
                        f"{caveat}")
            return make("convex_optimum", sentence + lam_note, gap, rel)
        tail = caveat if rel < 1.0 else ""
    # --- optimal at the requested tolerance ---------------------------------------------
    if met:
        if gated:
            sentence = (f"{Subject} is the optimal gated ReLU model for these gates (C-GReLU, a "
                        f"relaxation of ReLU training; {evidence})"
                        f"{shared_gated if c > 1 else ''}. It is not a claim about ReLU "
                        "networks.")
            return make("gated_optimum", sentence + lam_note, gap, rel)
        if complete and c == 1:
            sentence = (f"{Subject} is a global optimum of weight-decay training of two-layer "
                        f"ReLU networks of any width on these data ({evidence}).")
            return make("global_optimum", sentence + lam_note, gap, rel)
        if complete:
            sentence = (f"{Subject} is optimal over all activation patterns only among networks "
                        f"whose hidden neurons each feed one output ({evidence}); a dense "
                        "network whose hidden neurons are shared between outputs can do "
                        "better, so this is not a global optimum of dense training.")
            return make("one_output_per_neuron", sentence + lam_note, gap, rel)
        sentence = (f"{Subject} is optimal over the {problem.p} "
                    f"{'enumerated' if n_dropped else 'sampled'} activation patterns only "
                    f"({evidence}){shared if c > 1 else ''}; not proven globally optimal: {why}.")
        return make("optimal_over_patterns", sentence + lam_note, gap, rel)

    # --- only a bound -----------------------------------------------------------------------
    pct = describe_percent(rel)
    if equivalent:
        tail = "" if gated or complete else f" Even at its optimum it is optimal over these patterns only: {why}."
    else:
        tail = " " + tail if tail else ""
    if rel < 1.0:
        sentence = (f"Not proven optimal: the certificate proves only that {subject} is within "
                    f"{pct} of {best} (certified gap {gap:.3g}; {evidence}).{tail}")
        return make("within_gap", sentence + lam_note, gap, rel)
    if ell0 == 0 and getattr(problem, "loss", "squared") == "squared":
        # y = 0: the zero weights are optimal and p* = 0 exactly
        sentence = (f"Not proven optimal: here y = 0, so the optimum is 0 (the zero weights), and "
                    f"{subject} has objective {primal:.3g} above it ({evidence}).")
        return make("within_gap", sentence + lam_note, gap, rel)
    if ell0 > 0 and gap <= tol * ell0:
        # relative to its own (tiny) objective the gap is 100 %, but in the units of the
        # data (ℓ(0), the zero network's objective) it is small: say exactly that
        sentence = (f"Not proven optimal in relative terms ({evidence}): the certificate proves "
                    f"only that the objective {primal:.3g} of {subject} is within {gap:.3g} of "
                    f"that of {best}, i.e. within {gap / ell0:.1e} of the zero network's "
                    f"objective ℓ(0) = {ell0:.3g}; the optimum may itself be that small.")
        return make("within_gap", sentence + lam_note, gap, rel)
    sentence = (f"No claim: the certificate proves only that {subject} is within {pct} of "
                f"{best}, so nothing useful is proven (certified gap {gap:.3g}, dual bound "
                f"{dual:.3g}).")
    return make("no_claim", sentence + lam_note, gap, rel)
