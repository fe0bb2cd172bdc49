"""ketaclinic: clinical workflow for ketamine and esketamine therapy."""

__version__ = "0.1.0"
