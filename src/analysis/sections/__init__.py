"""Report sections: what each theme shows, shared by the thematic notebooks and the reports.

Every function takes a :class:`analysis.scope.Scope` (territory and period over the warehouse) and
a :class:`analysis.publish.Report` (which publishes figures and tables under disclosure control)
and returns the display objects of its part, in reading order: a notebook cell is then
``display(*section.part(scope, report))``. Key-figure functions record their figures on the report
(``report.key_figure``) so that the report's header and ``reports/index.html`` show them.
"""
