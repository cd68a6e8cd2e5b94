"""The public transparency report: quarterly counts with small cells suppressed and
differential-privacy noise (OpenDP), as static HTML in every language."""
