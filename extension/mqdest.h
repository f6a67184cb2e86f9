/*-------------------------------------------------------------------------
 *
 * mqdest.h
 *	  The DestReceiver that sends a portal's rows over the result queue (see
 *	  mqdest.c).
 *
 * IDENTIFICATION
 *	  extension/mqdest.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_MQDEST_H
#define PGBG_MQDEST_H

#include "tcop/dest.h"
#include "utils/portal.h"

extern DestReceiver *pgbg_create_receiver(Portal portal);

#endif							/* PGBG_MQDEST_H */
