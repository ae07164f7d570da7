"""Research designs: intervention timing and the analysis frames estimators are fitted on."""
