/*-------------------------------------------------------------------------
 *
 * relay.h
 *	  The worker's errors and notices, raised in the launching session (see
 *	  relay.c).
 *
 * IDENTIFICATION
 *	  extension/relay.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_RELAY_H
#define PGBG_RELAY_H

extern void pgbg_relay_parse(ErrorData *edata, const char *body, uint32 len,
							 int32 pid,
							 const char *(*worker_sql) (void *arg),
							 void *arg);

#endif							/* PGBG_RELAY_H */
