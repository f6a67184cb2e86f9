/*-------------------------------------------------------------------------
 *
 * execute.h
 *	  Running the SQL string in the worker (see execute.c).
 *
 * IDENTIFICATION
 *	  extension/execute.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_EXECUTE_H
#define PGBG_EXECUTE_H

extern void pgbg_start_xact_command(void);
extern void pgbg_enable_statement_timeout(void);
extern void pgbg_execute_sql_string(const char *sql);

#endif							/* PGBG_EXECUTE_H */
