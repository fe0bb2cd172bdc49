from ketaclinic.cli import run

run()
