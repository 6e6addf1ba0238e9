@echo off
rem Runs a project in the etl container (docker\Dockerfile); `backfill` first for a backfill:
rem   launchers\run_docker.bat [backfill] PROJECT [options of run.bat or backfill.bat]
rem Checks the arguments, finds etl, writes a start and an end line to
rem metadata\logs\PROJECT\launcher.log and returns etl's exit code: launchers\lib\launch.bat.
call "%~dp0lib\launch.bat" run docker "%~nx0" "%~dp0." %*
exit /b %ERRORLEVEL%
