#if PostgreSQL
    import PostgresNIO
    let _postgresProbe = PostgresConnection.Configuration.TLS.disable
#endif
