"""Balance analysis on numpy and scipy: no files, no threads, no Qt.

The face of the package is the analysis of a session or of one recording with its settings;
the result types are `balancelab.model`'s. The modules below are the parts it composes
(preprocess, orientation, sway, board, stabilization, events, symmetry, quality).
"""

from balancelab.dsp.analysis import analyze_recording, analyze_session
from balancelab.dsp.settings import ANALYSIS_VERSION, AnalysisSettings

__all__ = ["ANALYSIS_VERSION", "AnalysisSettings", "analyze_recording", "analyze_session"]
