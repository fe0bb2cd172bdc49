"""Population screening: synthetic Bulk Data exports, and screening a whole export per patient.

synth_catalog, synth_patient, synth   a deterministic synthetic population as NDJSON
export_files                          an export's files and lines: whose each line is, or why not
partitions                            grouping lines by patient with bounded memory
patient_rows                          one patient's lines -> Bundle -> screening -> one row
local_engine, spark_engine            the two ways to run it; row_files the result file
summary, commands                     what a run counted; the command line
"""
