"""The DANN paper's digit and traffic-sign datasets in their native formats."""
