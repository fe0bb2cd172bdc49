"""FHIR R4 in and out."""
