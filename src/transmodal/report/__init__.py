"""The run report: what the data looked like, how training went, how good the model is.

``fit`` collects the numbers (:mod:`transmodal.report.summary`, through the fit's ``Report`` extension); ``save`` writes them to ``report.json``
and renders ``report.html`` (:mod:`transmodal.report.render`) with embedded PNG plots, so the page
opens in a browser with no network. ``transmodal report DIR`` renders it again.
"""
