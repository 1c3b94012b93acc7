/* SPDX-License-Identifier: MIT */
/* version: what --version and /api/version report. */
#ifndef SPLICED_VERSION_H
#define SPLICED_VERSION_H

#define SPLICED_VERSION		"0.1.0"
/* The Traefik release whose flags, labels and API shapes spliced follows. */
#define SPLICED_TRAEFIK_VERSION	"v1.7.34"
#define SPLICED_TRAEFIK_CODENAME "maroilles"

#endif
