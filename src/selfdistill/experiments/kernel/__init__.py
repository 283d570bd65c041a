"""Reproductions of the kernel papers (torch-free): ``borup-fig2`` .. ``borup-fig4``
(``borup_toy``), ``mobahi-spline``, ``sparsity`` and ``sd-vs-ridge``."""
