"""The demo clinic: invented patients whose records show every screening decision."""

from ketaclinic.demo.patients import DemoPatient, demo_patients

__all__ = ["DemoPatient", "demo_patients"]
