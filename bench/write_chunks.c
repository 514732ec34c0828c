/* How the size and alignment of write(2) calls from a memory-mapped source
   affect the kernel's cost of copying into the page cache. Writes the first
   half of FILE to bench/out/wa.out in CHUNK-byte pwrite calls, the first call
   SKEW bytes long (0: every call starts on a CHUNK boundary).

       gcc -O2 -o /tmp/write_chunks bench/write_chunks.c
       /tmp/write_chunks bench/out/w2v-3m.bin 1048576 0     # 1 MiB, aligned
       /tmp/write_chunks bench/out/w2v-3m.bin 262144 0      # 256 KiB, aligned

   On the project's machine (Linux 6.18, ext4, 1.8 GB written): 1 MiB aligned
   2.8-4.1 s, 1 MiB skewed by 4 KiB 0.37-0.39 s, 512 KiB aligned 1.8-2.4 s,
   256 KiB aligned 0.34-0.37 s, 64 KiB 0.42-0.48 s. Gathered rows written
   with pwritev (zoo's word2vec matrix) were only consistently fast at 32 KiB
   (see ZooWriter's FDWriter.chunk), so that is the size zoo uses. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec*1e-9;}
int main(int c,char**v){ int fd=open(v[1],O_RDONLY); size_t sz=lseek(fd,0,SEEK_END); char*b=mmap(0,sz,PROT_READ,MAP_PRIVATE|MAP_POPULATE,fd,0);
 size_t chunk=atol(v[2]); size_t skew=atol(v[3]); size_t total=sz/2;
 const char*op="bench/out/wa.out"; unlink(op); int out=open(op,O_WRONLY|O_CREAT,0644); ftruncate(out,total+skew);
 double t=now(); size_t off=0; if(skew){ pwrite(out,b,skew,0); off=skew; }
 while(off+chunk<=total){ off+=pwrite(out,b+off,chunk,off);} 
 printf("chunk %zu skew %zu: %.2f s\n",chunk,skew,now()-t); close(out); unlink(op); return 0;}
