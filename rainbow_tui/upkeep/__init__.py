"""The operations manual's routine work (毎日・週次・月次・四半期・セキュリティ): the
routines as data, their automatic checks, a run of one, its record and report, and
what is due."""
