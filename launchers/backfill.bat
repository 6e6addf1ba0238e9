@echo off
rem Reloads a date range of a project window by window with `etl backfill`:
rem   launchers\backfill.bat PROJECT --from DATE --to DATE --days N [--env NAME] [--param "KEY=VALUE"]... [--parallel K] [--resume] [--keep-going] [--dry-run] [--quiet]
rem Checks the arguments, finds etl, writes a start and an end line to
rem metadata\logs\PROJECT\launcher.log and returns etl's exit code: launchers\lib\launch.bat.
call "%~dp0lib\launch.bat" backfill native "%~nx0" "%~dp0." %*
exit /b %ERRORLEVEL%
