"""Operations: devnet launcher, Prometheus configuration, alert rules, dashboards."""
